"""Helpers shared by the command modules."""


def print_table(title, columns, rows):
    from ..progress import render_table
    render_table(title, columns, rows, print_fn=print)
