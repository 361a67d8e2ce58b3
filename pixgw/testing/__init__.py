"""pixgw.testing"""
