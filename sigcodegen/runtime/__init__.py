"""Running kernels: one adapter per array framework (``frameworks``), the c target's loaded
libraries bound to numpy, JAX and torch (``bindings``), and the rules that pick a target and a
strategy, load the module and run it (``dispatch``)."""
