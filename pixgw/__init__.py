"""pixgw: a remote-access L2TP/IPsec VPN gateway configured in Cisco PIX 6.3 syntax."""

__version__ = "0.1.0"
