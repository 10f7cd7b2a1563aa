"""localmodel"""
