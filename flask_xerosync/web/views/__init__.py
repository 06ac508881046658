"""The blueprint's views, one module per page family; importing one registers its routes."""
