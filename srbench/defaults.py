"""The built-in plugins the core refers to by name, each named here once.

The core never spells a built-in plugin's name elsewhere: the leaderboard's and the
figures' reference method and the degradation a track uses when it names none come from
this module, and the built-ins (:mod:`srbench.builtins`) register plugins under these names.
"""

#: the method every board compares against (paired tests, figure's first column)
BASELINE_METHOD = "trilinear"

#: the degradation of a track (and of ``srbench degrade``) that names none: the paper's
#: block mean (:class:`srbench.data.degradations.PaperLinear`)
DEFAULT_DEGRADATION = "paper-linear"
#: the metric column that sorts a board and names its leader when a track declares none
DEFAULT_PRIMARY_METRIC = "psnr"
