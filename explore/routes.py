"""The explorer's HTTP routes (under ``/data/plugin/zfkeras/``), as werkzeug WSGI apps.

Every route reads its parameters through `zfkeras.explore.params` and the
run through `Discovery.resolve`; a refused request gets 400 (413 too large,
503 busy) and ``{"error": message}``; a failure inside gets 500 and a one-line message
(the traceback goes to TensorBoard's log, never to the client).

    GET  /runs                              the sources under the log folder
    GET  /info?run=                         layers, classes, methods (loads the model)
    GET  /unit?run=&layer=&map=[&method=]   top 9 and evolution, or mining progress
    GET  /test_images?run=&offset=&count=   thumbnails of the mined images
    POST /upload?run=                       an image file as the body -> its id
    GET  /analyze?run=&image=               top 5 classes, strongest maps per layer
    GET  /project?run=&image=&layer=&map=[&y=&x=][&method=]
    GET  /explain?run=&image=&method=[&target=]   a class's map by any registered method
    GET  /occlusion?run=&image=&size=&stride=[&method=]
    GET  /visualization?run=&layer=&map=[&method=&steps=&seed=]   a map's optimised image, or progress
    GET  /class_visualizations?run=[&offset=&count=][&method=&steps=&seed=]   classes' images ready so far

Every route but ``/runs`` computes through one `zfkeras.explore.limits.Gate`:
at most a few at once, a bounded queue waiting, and 503 with
``Retry-After`` beyond it. Loaded sessions (a model, its images) are kept
in a least-recently-used cache (`zfkeras.explore.limits.SESSIONS`). POST
routes require the header ``X-XSRF-Protected: 1``, as TensorBoard's own
do, so a web page elsewhere cannot make a browser post to them.

The method menus come from the method registry (`zfkeras.methods.registry`):
``/unit`` and ``/project`` take the methods that explain units,
``/explain`` every registered method, so a method registered while the
explorer runs is offered at once.
"""

import logging
import re
import threading

from werkzeug import wrappers

from zfkeras.explore import params
from zfkeras.explore.params import BadRequest

logger = logging.getLogger(__name__)

MAX_THUMBS = 48
MAX_CLASS_IMAGES = 48  # class images in one answer (a page of the Classes view)
_IMAGE = re.compile(r"^(test:([0-9]{1,9})|upload:([0-9a-f]{64}))$")


# zfkeras.occlusion's engines (its method=), offered by the occlusion route: not
# explanation methods (zfkeras.methods.occlusion.api.METHODS; repeated here
# because that module imports TensorFlow and the routes load without it)
OCCLUSION_METHODS = ("auto", "full", "incremental", "approximate")


class Explorer:
    """The routes' state: discovery, loaded sessions, mining jobs, uploads."""

    def __init__(self, discovery):
        from zfkeras.explore.jobs import MiningJobs
        from zfkeras.explore.limits import Gate, LRUCache
        from zfkeras.explore.uploads import Uploads
        from zfkeras.explore.visualization import VisualizationJobs

        self.discovery = discovery
        self.gate = Gate()
        self.jobs, self.uploads = MiningJobs(self.gate), Uploads()
        self.visualizations = VisualizationJobs(self.gate)
        self.sessions = LRUCache()
        self._lock, self._loading = threading.Lock(), {}

    def call(self, name, *args):
        """Route ``name`` with its arguments; all but ``runs`` within a turn of the gate."""
        if name == "runs":
            return self.runs(*args)
        with self.gate.turn(f"/{name}"):
            return getattr(self, name)(*args)

    # -- shared steps ---------------------------------------------------------

    def session(self, args):
        run_id, path, kind = self.discovery.resolve(args)
        key = (run_id, path)  # a link re-pointed elsewhere is another session
        session = self.sessions.get(key)
        if session is not None:
            return session
        with self._lock:
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            session = self.sessions.get(key)
            if session is None:
                from zfkeras.explore.session import Session
                from zfkeras.explore.sources import open_source

                session = self.sessions.put(key, Session(open_source(kind, run_id, path)))
            return session

    def image(self, session, args):
        """The ``image`` parameter (``test:N`` or ``upload:SHA256``) -> raw uint8 model-size image."""
        match = _IMAGE.match(params.text(args, "image"))
        if match is None:
            raise BadRequest("parameter 'image' must be test:<index> or upload:<id from /upload>")
        if match.group(2) is not None:
            raw, _ = session.test_raw()
            index = int(match.group(2))
            if index >= len(raw):
                raise BadRequest(f"test image {index} does not exist: the run has images 0..{len(raw) - 1}")
            return raw[index]
        from zfkeras.explore.uploads import cut

        return cut(session.source, self.uploads.get(match.group(3), session.source.image_side))

    @staticmethod
    def method(session, args):
        """The ``method`` parameter: a registered method that explains units."""
        return params.choice(args, "method", session.methods, default="deconvnet")

    # -- routes ---------------------------------------------------------------

    def runs(self, args):
        sources = self.discovery.sources(refresh=True)
        return {"runs": [{"id": run_id, "kind": kind} for run_id, kind in sorted(sources.items())]}

    def info(self, args):
        from zfkeras.explore import visualization

        session = self.session(args)
        return dict(session.info(), occlusion_methods=list(OCCLUSION_METHODS),
                    num_classes=visualization.class_count(session),
                    visualization={"methods": list(visualization.METHODS), "method": visualization.METHOD,
                                   "steps": visualization.default_steps(), "seed": 0,
                                   "chunk": self.visualizations.chunk})

    def unit(self, args):
        session = self.session(args)
        layer = params.layer(args, session.layers)
        channel = params.integer(args, "map", 0, session.layers[layer][2] - 1)
        method = self.method(session, args)
        status, value = self.jobs.result(session, layer)
        if status == "running":
            return {"status": "mining", "progress": round(value, 3), "layer": layer, "map": channel,
                    "images": int(len(session.test_raw()[0]))}
        return dict(session.unit(layer, channel, value, method), status="ready")

    def _visualizations(self, session, args, target, indices):
        """The answer of a visualisation route: ``status`` ``"ready"`` with ``entries`` (one per index,
        in order) when all are ready, else ``"running"`` with the progress and the entries ready so far."""
        from zfkeras.explore import pictures, visualization

        method = params.choice(args, "method", visualization.METHODS, default=visualization.METHOD)
        steps = params.integer(args, "steps", 1, visualization.MAX_STEPS, default=visualization.default_steps())
        seed = params.integer(args, "seed", 0, visualization.MAX_SEED, default=0)
        job, ready = self.visualizations.entries(session, (target, method, steps, seed), indices)
        total = len(visualization.chunks(len(visualization.objectives(session, target)), self.visualizations.chunk))
        entries = []
        for index, (pixels, value, alpha) in sorted(ready.items()):
            entries.append({"index": int(index), "value": round(value, 4), "image": pictures.raw_uri(pixels),
                            "faded": None if alpha is None else pictures.faded_uri(pixels, alpha)})
        answer = {"method": method, "steps": steps, "seed": seed, "entries": entries,
                  "chunks": [job.done if job.result is None else total, total]}
        if len(ready) == len(indices):
            return dict(answer, status="ready")
        return dict(answer, status="running", progress=round(job.done / job.total, 3))

    def visualization(self, args):
        from zfkeras.runs.visualized import layer_target

        session = self.session(args)
        layer = params.layer(args, session.layers)
        channel = params.integer(args, "map", 0, session.layers[layer][2] - 1)
        return dict(self._visualizations(session, args, layer_target(layer), [channel]), layer=layer, map=channel,
                    maps=session.layers[layer][2])

    def class_visualizations(self, args):
        from zfkeras.explore.visualization import CLASSES, class_count

        session = self.session(args)
        classes = class_count(session)
        if classes < 1:
            raise BadRequest(f"{session.source.id}: the model's output has no class scores")
        offset = params.integer(args, "offset", 0, classes - 1, default=0)
        count = params.integer(args, "count", 1, MAX_CLASS_IMAGES, default=MAX_CLASS_IMAGES)
        indices = list(range(offset, min(classes, offset + count)))
        answer = self._visualizations(session, args, CLASSES, indices)
        for entry in answer["entries"]:
            entry["label"] = session.label_name(entry["index"])
        return dict(answer, classes=classes, offset=offset, count=len(indices))

    def test_images(self, args):
        from zfkeras.explore import pictures

        session = self.session(args)
        raw, labels = session.test_raw()
        offset = params.integer(args, "offset", 0, max(0, len(raw) - 1), default=0)
        count = params.integer(args, "count", 1, MAX_THUMBS, default=24)
        return {"total": int(len(raw)), "offset": offset, "images": [
            {"image": f"test:{i}", "thumb": pictures.raw_uri(raw[i]),
             "label": None if labels is None else session.label_name(labels[i])}
            for i in range(offset, min(len(raw), offset + count))]}

    def upload(self, args, body):
        """An image file (the request's body; a callable reading it) -> its id and thumbnail."""
        from zfkeras.explore import pictures
        from zfkeras.explore.uploads import cut

        session = self.session(args)
        side = session.source.image_side
        digest = self.uploads.add(body() if callable(body) else body, side)
        raw = cut(session.source, self.uploads.get(digest, side))
        return {"image": f"upload:{digest}", "thumb": pictures.raw_uri(raw)}

    def analyze(self, args):
        session = self.session(args)
        return session.analyze(self.image(session, args))

    def project(self, args):
        session = self.session(args)
        raw = self.image(session, args)
        layer = params.layer(args, session.layers)
        height, width, count = session.layers[layer]
        channel = params.integer(args, "map", 0, count - 1)
        position = None
        if args.get("y") or args.get("x"):
            position = (params.integer(args, "y", 0, height - 1), params.integer(args, "x", 0, width - 1))
        return session.project_image(raw, layer, channel, position, self.method(session, args))

    def explain(self, args):
        session = self.session(args)
        raw = self.image(session, args)
        methods = session.explanation_methods
        method = params.choice(args, "method", methods, default=methods[0] if methods else None)
        classes = int(session.model.outputs[0].shape[-1])
        target = params.integer(args, "target", 0, classes - 1) if args.get("target") else None
        return session.explain_image(raw, method, target)

    def occlusion(self, args):
        session = self.session(args)
        raw = self.image(session, args)
        side = min(session.source.input_shape[:2])
        size = params.integer(args, "size", 1, side)
        stride = params.integer(args, "stride", 1, side)
        method = params.choice(args, "method", OCCLUSION_METHODS, default="auto")
        return session.occlude(raw, size, stride, method)


XSRF_HEADER = "X-XSRF-Protected"


def json_app(handler, methods=("GET",), body=False, max_body=None):
    """A WSGI app answering ``handler(args[, read_body])`` as JSON; refusals 400 (or their status), failures 500.

    A POST must carry ``X-XSRF-Protected: 1`` (a header a page on another
    site cannot add without the server's CORS consent, which TensorBoard
    never gives); a body over ``max_body`` is a 413 before it is read.
    """
    from tensorboard.backend import http_util

    from zfkeras.utils.errors import InputError
    from zfkeras.explore.jobs import JobError

    @wrappers.Request.application
    def app(request):
        try:
            if request.method not in methods:
                raise BadRequest(f"use {' or '.join(methods)} for this route, not {request.method}")
            if request.method == "POST" and request.headers.get(XSRF_HEADER) != "1":
                raise BadRequest(f"a POST to this route must carry the header '{XSRF_HEADER}: 1' "
                                 "(as TensorBoard's own POST routes)", status=403)
            if body:
                length = request.content_length
                if length is not None and length > max_body:
                    raise BadRequest(f"the upload is {length} bytes; at most {max_body} ({max_body >> 20} MiB)",
                                     status=413)
                # read when the handler asks, within its turn of the gate: waiting uploads hold no body
                answer = handler(request.args, lambda: request.stream.read(max_body + 1))
            else:
                answer = handler(request.args)
            return http_util.Respond(request, answer, "application/json")
        except BadRequest as error:
            response = http_util.Respond(request, {"error": str(error)}, "application/json", code=error.status)
            if error.retry_after is not None:
                response.headers["Retry-After"] = str(int(error.retry_after))
            return response
        except InputError as error:  # zfkeras' own checks of what was asked (a bad run folder, image)
            return http_util.Respond(request, {"error": str(error)}, "application/json", code=400)
        except JobError as error:
            return http_util.Respond(request, {"error": str(error)}, "application/json", code=500)
        except Exception as error:  # noqa: BLE001 - logged in full, answered in one line
            logger.exception("zfkeras explorer: %s failed", request.path)
            return http_util.Respond(request, {"error": f"internal error ({type(error).__name__}); "
                                                        "the TensorBoard log has the details"},
                                     "application/json", code=500)

    return app
