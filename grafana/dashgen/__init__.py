"""Grafana dashboards as code: plain-dict builders and one module per dashboard.

``grafana/generate_dashboards.py`` writes ``grafana/dashboards/*.json`` from these modules;
tests check that the committed JSON equals the generated JSON.
"""
