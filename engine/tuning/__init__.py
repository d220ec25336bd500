"""Hyperparameter tuning: the learning-rate range test and searches over the experiment config."""
