"""pixgw.pki"""
