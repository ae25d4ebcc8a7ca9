"""URLs of the study's own Label Studio: ours first, then all of Label Studio's."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path

from coding_pipeline.labelstudio.ls_site import views

urlpatterns = [
    path("coding-pipeline/api/spaces/", views.spaces, name="coding-pipeline-spaces"),
    path("user/signup/", views.signup, name="coding-pipeline-signup"),
]
if settings.CLIPS_DIR:
    urlpatterns.append(path("data/local-files/", views.clip, name="coding-pipeline-clip"))
urlpatterns.append(re_path(r"^", include("core.urls")))
