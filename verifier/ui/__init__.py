"""The inspector's Textual app. Only this package imports textual."""
