# The two commands the README promises: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
POLICY_STAMP := policy/venv/.installed

.PHONY: demo test lint contracts pytest bench bench-paper bench-runtime bench-cluster bench-compute bench-backends docs-figures clean \
	image image-base image-test image-size image-clean check-wheels

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The pulumi-policy pack needs its own venv: pulumi-policy pins protobuf 5, TensorFlow needs 6.
$(POLICY_STAMP): policy/requirements.txt
	test -d policy/venv || $(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --upgrade pip
	policy/venv/bin/python -m pip install --quiet -r policy/requirements.txt
	touch $(POLICY_STAMP)

demo: $(STAMP)
	$(BIN)/seifer up --local stacks/dev.pipeline.yaml --emulate-network=auto --demo

test: $(STAMP) lint contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check seifer_iac runtime tests policy images

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) $(POLICY_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --hypothesis-profile ci

# Every benchmark lives in seifer_iac/bench/ (paper, runtime, cluster, backends); these run its CLI commands.
bench: bench-paper bench-runtime bench-cluster bench-compute bench-backends

bench-paper: $(STAMP)
	$(BIN)/seifer bench paper

bench-runtime: $(STAMP)
	$(BIN)/seifer bench runtime

bench-cluster: $(STAMP)
	$(BIN)/seifer bench cluster --no-compute

# Node speeds enforced (root, cgroups): Raspberry-Pi-class workers, ResNet50 on 1-16 nodes, DEFER's +53 %.
bench-compute: $(STAMP)
	$(BIN)/seifer bench cluster --compute-only --out docs/bench-compute

bench-backends: $(STAMP)
	$(BIN)/seifer bench backends --fit

# The figures tables of docs/deployment.md (objects, weights, Pulumi state per stack).
docs-figures: $(STAMP)
	$(BIN)/python -m seifer_iac.pulumi_program.figures --write docs/deployment.md

clean:
	rm -rf $(VENV) policy/venv build *.egg-info .pytest_cache .ruff_cache

# The runtime image, built here without Docker (docs/deployment.md, "The runtime image"): a Debian bookworm base
# with python3 made by mmdebstrap (cached as a tarball under build/images/), imported into the local container
# store, then images/runtime/Dockerfile built on it by buildah. ARCH=arm64 builds under qemu-user-static.
# Needs root and the Debian packages mmdebstrap, buildah, podman, runc (+ qemu-user-static, binfmt-support
# for a foreign ARCH). Result: localhost/seifer-runtime:$(BACKEND)-$(ARCH) (what tests/images runs).
ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
BACKEND ?= litert
IMAGE_REPO ?= localhost/seifer-runtime
IMAGE_NAME := $(IMAGE_REPO):$(BACKEND)-$(ARCH)
IMAGE_CACHE := build/images
# The base's only contents beyond Debian's Essential set: python3, its venv module and libstdc++ (LiteRT is
# C++; apt would have pulled it in, as it does in python:3.11-slim). No apt, no docs, man pages,
# translations or glibc iconv modules (Python has its own codecs; 9 MB on amd64, 20 MB on arm64); /usr
# merged as bookworm expects (otherwise usrmerge pulls in perl).
MMDEBSTRAP_OPTS := --variant=essential --include=python3,python3-venv,libstdc++6 \
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/lib/*/gconv/*'
# The cached base tarball is named by these options: changing them makes a new one.
BASE_KEY := $(shell echo '$(MMDEBSTRAP_OPTS)' | sha256sum | cut -c1-12)
BASE_TAR := $(IMAGE_CACHE)/base-bookworm-$(ARCH)-$(BASE_KEY).tar
BASE_IMAGE := localhost/seifer-base:bookworm-$(ARCH)-$(BASE_KEY)
export CONTAINERS_CONF ?= $(CURDIR)/images/containers.conf
comma := ,
# The CA bundle pip inside the build trusts (the host's: right behind an HTTPS-inspecting proxy too).
PIP_CA ?= $(or $(PIP_CERT),/etc/ssl/certs/ca-certificates.crt)

$(BASE_TAR):
	mkdir -p $(IMAGE_CACHE)
	rm -f $@.part
	mmdebstrap --format=tar --architectures=$(ARCH) $(MMDEBSTRAP_OPTS) bookworm $@.part
	mv $@.part $@

image-base: $(BASE_TAR)
	podman image exists $(BASE_IMAGE) || podman import --quiet --arch $(ARCH) $(BASE_TAR) $(BASE_IMAGE) >/dev/null

image: image-base
	buildah bud --layers --force-rm --pull=never --network=host --platform linux/$(ARCH) \
		$(if $(wildcard $(PIP_CA)),--secret id=pip-ca$(comma)src=$(PIP_CA)) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BACKEND=$(BACKEND) \
		-f images/runtime/Dockerfile -t $(IMAGE_NAME) .
	@$(MAKE) --no-print-directory image-size

# Removes what `make image` made: the images, the layer cache and the cached base tarballs.
image-clean:
	podman rmi --ignore --force $$(podman images --format '{{.Repository}}:{{.Tag}}' \
		| grep -E '^localhost/seifer-(runtime|base):') 2>/dev/null || true
	podman image prune --force >/dev/null
	rm -rf $(IMAGE_CACHE)

image-size:
	@podman image inspect --format '$(IMAGE_NAME) {{.Id}} {{.Size}} bytes' $(IMAGE_NAME)

# The slow image tests (run the built image as Kubernetes would; also part of `make test`, skipped there
# when the image was not built).
image-test: $(STAMP) image
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/images

# Both requirement sets resolve to CPython 3.11 manylinux wheels for linux/amd64 and linux/arm64.
check-wheels: $(STAMP)
	$(BIN)/python images/check_wheels.py images/runtime/requirements.txt images/runtime/requirements-tensorflow.txt
