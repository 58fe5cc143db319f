"""Training side of aeinfer: MNIST data, the model families and one generic trainer.

Importing this package imports nothing heavy; torch is imported by the modules that need it.
"""
