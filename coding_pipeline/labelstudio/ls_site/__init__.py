"""The Django site the study's own Label Studio runs as: Label Studio's settings and URLs, hardened.

`label-studio start` is launched with DJANGO_SETTINGS_MODULE=coding_pipeline.labelstudio.ls_site
.settings (see server.py); Label Studio only sets that variable when it is absent. Everything here
runs inside the server's own process.
"""
