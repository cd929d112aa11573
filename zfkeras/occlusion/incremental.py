"""Incremental exact occlusion (work in progress: always unsupported)."""


class IncrementalOcclusion:
    @classmethod
    def plan(cls, model, image_shape, size, corners, layer):
        return None, "incremental occlusion is not implemented yet"
