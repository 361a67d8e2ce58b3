"""pixgw.cli"""
