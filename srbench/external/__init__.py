"""Methods srbench does not run: export a track's inputs, score a folder of outputs.

A method that is not a plugin (MATLAB code, a vendor's reconstruction, weights that
cannot be shared) reaches a board the way challenges work: :mod:`.inputs` writes every
test subject's LR volume exactly as evaluation makes it, with a manifest of the grid each
output must lie on; :mod:`.predictions` finds and checks the submitted files; and
:mod:`.scoring` scores them with the same intensity convention and metrics as plugin rows
and stores them marked ``external``. HR volumes never leave srbench.
"""
