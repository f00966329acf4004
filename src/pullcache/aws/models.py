"""The AWS service models, read once at start-up from the data files botocore ships.

botocore's models are the source of truth for operation names, shapes and constraints. Loading parses a few
megabytes of JSON, so it happens once, in the composition root, never at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

# The services pullcache answers, by their botocore names.
SERVICE_NAMES = ("ecr", "iam", "sts", "secretsmanager")


class UnknownService(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no model is loaded for the service {name!r}")
        self.name = name


@dataclass(frozen=True, slots=True)
class ServiceModels:
    """The loaded models, by service name."""

    by_name: Mapping[str, ServiceModel]

    def get(self, name: str) -> ServiceModel:
        """Raises UnknownService."""
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownService(name) from None

    def find_operation(self, service: str, operation: str) -> OperationModel | None:
        """The operation of `service` named `operation` (its wire name, e.g. `CreateRepository`), or None."""
        model = self.by_name.get(service)
        if model is None or operation not in model.operation_names:
            return None
        return model.operation_model(operation)


def load_service_models(names: Iterable[str] = SERVICE_NAMES) -> ServiceModels:
    """Read the newest `service-2` model of each service; raises botocore's UnknownServiceError for a bad name."""
    loader = create_loader()
    models = {name: ServiceModel(loader.load_service_model(name, "service-2"), service_name=name) for name in names}
    return ServiceModels(models)
