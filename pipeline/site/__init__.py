"""The published static site: pages rendered by Jinja2 with autoescaping, charts embedded as data."""
