"""Print every URL pattern of the study's server as JSON (run with its Django settings).

Each pattern becomes {"name", "template", "kwargs"}: the allow-list's name for it (URL name, or
the view's dotted path when unnamed), its path with {argument} placeholders, and the arguments;
a template that does not resolve back to its own pattern is listed under "unresolved".
Also says whether each Label Studio internal name ls_site uses resolves ("internals").
Used by guard_replay.url_routes() and the guard's contract test.
"""

from __future__ import annotations

import json
import re

import django
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

SAMPLE = {"format": "json", "path": "x", "sub_path": "x", "filename": "1/x.mp4",
          "action_id": "x", "entity_name": "annotation", "token": "x", "app_label": "tasks",
          "content_type_id": "1", "object_id": "1", "url": "x"}


def template_of(pattern) -> str:
    """A pattern piece as a path template with {argument} placeholders."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)\??", r"{\1}", text)
        text = text.replace("\\.", ".").replace("/?", "/").replace("^", "").replace("$", "")
        text = re.sub(r"\(\?:.*?\)\??", "", text)
        return text
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)


def walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            joined = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            yield from walk(pattern.url_patterns, prefix + template_of(pattern.pattern), joined)
        elif isinstance(pattern, URLPattern):
            yield prefix + template_of(pattern.pattern), namespace, pattern


def main() -> None:
    django.setup()
    routes, unresolved = [], []
    for template, _namespace, pattern in walk(get_resolver().url_patterns):
        kwargs = re.findall(r"{(\w+)}", template)
        path = "/" + template.format(**{k: SAMPLE.get(k, "1") for k in kwargs})
        try:
            match = resolve(path.split("?")[0])
        except Resolver404:
            unresolved.append(template)
            continue
        if match.func is not pattern.callback:
            unresolved.append(template)
            continue
        name = match.view_name
        routes.append({"name": name, "template": template, "kwargs": kwargs})
    print(json.dumps({"routes": routes, "unresolved": unresolved, "internals": internals()}))


def internals() -> dict[str, str]:
    """Each name of ls_site.label_studio.INTERNALS -> "" if it resolves, else the error."""
    from coding_pipeline.labelstudio.ls_site import label_studio

    found = {}
    for name in label_studio.INTERNALS:
        try:
            getattr(label_studio, name)
            found[name] = ""
        except (ImportError, AttributeError) as exc:
            found[name] = f"{exc.__class__.__name__}: {exc}"
    return found


if __name__ == "__main__":
    main()
