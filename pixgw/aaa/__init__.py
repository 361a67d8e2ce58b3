"""pixgw.aaa"""
