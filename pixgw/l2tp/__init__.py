"""pixgw.l2tp"""
