"""Evaluation: metric functions and group-bootstrap intervals, pure and model-free."""
