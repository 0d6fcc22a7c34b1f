"""Training with fastai: recipes, learners, callbacks, losses, seeding."""
