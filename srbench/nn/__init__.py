"""Network building blocks shared by method plugins (MONAI's layers → blocks → nets split).

:mod:`srbench.nn.layers` holds single layers and initialisation (3D pixel shuffle, the
3³ convolution, Kaiming init); :mod:`srbench.nn.blocks` assembles them into ESRGAN's
residual dense block and RRDB. Networks themselves live in the plugins.
"""
