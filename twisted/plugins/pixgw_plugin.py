from pixgw.tap import serviceMaker  # noqa: F401  (twistd discovers the pixgw service here)
