"""`ExplorerPlugin`: the zfkeras tab of TensorBoard (a dynamic plugin).

TensorBoard finds it through the ``tensorboard_plugins`` entry point of
the zfkeras distribution. Its frontend is the plain ES module
``static/index.js`` (with the modules it imports and ``style.css``),
package data served as they are: no build step, nothing fetched from the
network. The tab is shown when `is_active`: the log folder holds a run
folder or an explore entry (`zfkeras.explore.discovery`, a bounded,
cached scan). Importing this module and constructing the plugin import no
TensorFlow; the routes (`zfkeras.explore.routes`) load a run's model on
its first request.
"""

import importlib.resources

from tensorboard.plugins import base_plugin

PLUGIN_NAME = "zfkeras"
STATIC_FILES = {"index.js": "text/javascript", "units.js": "text/javascript", "images.js": "text/javascript",
                "classes.js": "text/javascript", "common.js": "text/javascript", "style.css": "text/css"}


def static_text(name):
    """The text of one of `STATIC_FILES` (package data of zfkeras.explore)."""
    return importlib.resources.files("zfkeras.explore").joinpath("static", name).read_text(encoding="utf-8")


class ExplorerPlugin(base_plugin.TBPlugin):
    """The live deconvnet explorer.

    Args:
        context: `tensorboard.plugins.base_plugin.TBContext` (its ``logdir``).
    """

    plugin_name = PLUGIN_NAME

    def __init__(self, context):
        from zfkeras.explore.discovery import Discovery

        self.discovery = Discovery(getattr(context, "logdir", None))
        self._explorer = None

    def is_active(self):
        return bool(self.discovery.sources())

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="zfkeras", disable_reload=True)

    def _routes(self):
        if self._explorer is None:
            from zfkeras.explore.routes import Explorer

            self._explorer = Explorer(self.discovery)
        return self._explorer

    def get_plugin_apps(self):
        from zfkeras.explore.routes import json_app
        from zfkeras.explore.uploads import MAX_BYTES

        def route(name):
            return lambda *args: self._routes().call(name, *args)

        apps = {f"/{name}": _static_app(name, kind) for name, kind in STATIC_FILES.items()}
        for name in ("runs", "info", "unit", "test_images", "analyze", "project", "explain", "occlusion",
                     "visualization", "class_visualizations"):
            apps[f"/{name}"] = json_app(route(name))
        apps["/upload"] = json_app(route("upload"), methods=("POST",), body=True, max_body=MAX_BYTES)
        return apps


def _static_app(name, kind):
    from tensorboard.backend import http_util
    from werkzeug import wrappers

    @wrappers.Request.application
    def app(request):
        return http_util.Respond(request, static_text(name), kind)

    return app
