"""The operator's review web page (`spendsense review serve`): Starlette, Jinja2 templates, static files."""
