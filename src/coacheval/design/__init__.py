"""Designing a program's evaluation before it starts: peer groups, rollout order and power.

The modules of this package are used before the first cohort meets: forming peer groups that
satisfy the program's rules, randomising the order in which groups start (a stepped-wedge
rollout), and computing what the planned evaluation can detect.
"""
