"""Grafana dashboards as code, built with Grafana's SDK (grafana-foundation-sdk): one module per dashboard.

``grafana/generate_dashboards.py`` writes ``grafana/dashboards/*.json`` from these modules;
tests check that the committed JSON equals the generated JSON.
"""
