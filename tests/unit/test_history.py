"""history.instruction: Docker's created_by notation as the instruction that made a layer."""
import pytest

from slimmer.history import copy_destination, instruction, keyword
from slimmer.keep.app import is_copy_layer


@pytest.mark.parametrize("created_by, expected", [
    ("/bin/sh -c #(nop)  ENV A=b", "ENV A=b"),
    ("/bin/sh -c #(nop) COPY dir:abc in /app ", "COPY dir:abc in /app"),
    ("/bin/sh -c apt-get update &&     apt-get install -y curl", "RUN apt-get update && apt-get install -y curl"),
    ("|2 A=1 B=2 /bin/sh -c make", "RUN make"),
    ("RUN /bin/sh -c pip install -r req.txt # buildkit", "RUN pip install -r req.txt"),
    ("COPY app.py /app/ # buildkit", "COPY app.py /app/"),
    ("WORKDIR /app", "WORKDIR /app"),
    ("", ""),
])
def test_instruction(created_by, expected):
    assert instruction(created_by) == expected


def test_keyword_and_copy_destination():
    assert keyword("/bin/sh -c #(nop)  CMD [\"app\"]") == "CMD" and keyword("") == ""
    assert copy_destination("/bin/sh -c #(nop) COPY file:ab in /srv/app.py ") == "/srv/app.py"
    assert copy_destination("RUN /bin/sh -c cp a b # buildkit") is None


@pytest.mark.parametrize("created_by, is_app", [
    ("/bin/sh -c #(nop) COPY dir:abc in /app ", True),
    ("COPY --chown=1000 src/ /srv/ # buildkit", True),
    ("/bin/sh -c #(nop) ADD file:rootfs in / ", False),     # a base image's rootfs
    ("ADD rootfs.tar /. # buildkit", False),
    ("/bin/sh -c chmod +x /app/run.sh", False),
])
def test_copy_layers_for_the_app_rule(created_by, is_app):
    assert is_copy_layer(created_by) is is_app
