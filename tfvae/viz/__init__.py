"""Pictures of models: image grids written as PNG."""

from tfvae.viz.grids import image_grid, save_png

__all__ = ["image_grid", "save_png"]
