"""PIX 6.3 configuration: model, parser, renderer."""
