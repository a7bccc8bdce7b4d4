"""Colloqium DevSpace."""
