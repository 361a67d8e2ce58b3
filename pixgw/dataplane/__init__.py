"""pixgw.dataplane"""
