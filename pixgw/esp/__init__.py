"""pixgw.esp"""
