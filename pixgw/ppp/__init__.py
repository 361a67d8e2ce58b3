"""pixgw.ppp"""
