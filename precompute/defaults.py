"""The project's defaults, stated once: the CLI, the builders and the server read them here.

Pure constants (no imports), so that reading a default never loads the solver.
"""

# The digit pair the article is written about, and the one built first.
DEFAULT_PAIR = (2, 3)
# Training images per digit: the first ones in file order (None would mean all of them).
DEFAULT_PER_CLASS = 3000
# The path's grid of log10 λ, START:STOP:STEP inclusive: 81 models from 1e-6 to 1e2.
DEFAULT_LOG10_LAMBDA_GRID = "-6:2:0.1"
