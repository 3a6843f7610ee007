"""One module per kind of delivery. A transport sends one row and raises
``TransportError`` when it could not; ``permanent=True`` means retrying cannot help."""


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent
