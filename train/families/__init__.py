"""Model families, one module each; :mod:`aeinfer.train.registry` maps names to them."""
