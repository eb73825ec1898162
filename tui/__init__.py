"""netmedic's faces: the Textual app, the Rich CLI output, report rendering."""
