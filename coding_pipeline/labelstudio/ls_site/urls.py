"""URLs of the study's own Label Studio: ours first, then all of Label Studio's."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from coding_pipeline.labelstudio.ls_site import views

# Django REST framework read its settings while Label Studio's were still loading (settings.py
# runs them first), and APIView keeps the authentication classes as a class attribute: now that
# the settings are complete, make it use ours (ls_site.auth). The URLs load before any request.
api_settings.reload()
APIView.authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES

urlpatterns = [
    path("coding-pipeline/api/spaces/", views.spaces, name="coding-pipeline-spaces"),
    path("coding-pipeline/api/projects/<int:project_id>/export/", views.export,
         name="coding-pipeline-export"),
    path("coding-pipeline/spaces/<int:space_id>/", views.open_space,
         name="coding-pipeline-open-space"),
    path("user/signup/", views.signup, name="coding-pipeline-signup"),
]
if settings.CLIPS_DIR:
    urlpatterns.append(path("data/local-files/", views.clip, name="coding-pipeline-clip"))
urlpatterns.append(re_path(r"^", include("core.urls")))
