"""One module per kind of delivery. A transport sends one row and raises
``TransportError`` when it could not; ``permanent=True`` means retrying cannot help. The
transport knows its library's errors and says which are permanent; any other exception
that escapes it is retried like a transient failure (``services._deliver_kind``)."""


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent
