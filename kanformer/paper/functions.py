"""The names of the KAN paper's toy functions, as plain data (no torch): the command line's help
lists them without loading torch. The functions themselves are :data:`kanformer.paper.fitting.PAPER_FUNCTIONS`.
"""

#: The KAN shape the paper fits each toy function with (a representation that exists exactly).
PAPER_SHAPES: dict[str, list[int]] = {
    "J0(20x)": [1, 1],
    "exp(sin(pi*x)+y^2)": [2, 1, 1],
    "x*y": [2, 2, 1],
    "exp(mean(sin^2(pi*x_i/2)), 100d)": [100, 1, 1],
    "exp((sin(pi(x1^2+x2^2))+sin(pi(x3^2+x4^2)))/2)": [4, 4, 2, 1],
}
