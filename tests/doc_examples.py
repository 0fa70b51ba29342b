#!/usr/bin/python3
"""Compiles every C++ example of the documentation, so that none can rot.

Usage: doc_examples.py SOURCE_DIR OUT_DIR CXX [compiler flags...]

Collects the ```cpp blocks of README.md and docs/*.md, and the code blocks of the public headers'
doc comments (lines of `///` followed by four spaces: math in doc comments is indented by two),
writes them into one translation unit, each in a namespace of its own with #line directives that
point back at the document, and compiles it. Exits with the compiler's status, so a broken example
fails the test and the compiler names the document and line.

An example is placed as it is written: a block that defines things (a function, a class, a
template, main) goes at namespace scope; any other block is a run of statements and goes into a
function body, after a prelude that declares the names the examples share (`tape`, `model`, `x`,
`loader`, ...: see PRELUDE). A block may declare any of these itself; its declaration shadows the
prelude's.
"""
import glob
import os
import re
import subprocess
import sys

PRELUDE = r"""
  namespace tg = tapegrad;
  using tapegrad::Array;
  tapegrad::Rng rng(0);
  tapegrad::Tape<float> tape;
  tapegrad::nn::MLP<float> model({2, 4, 1}, rng);
  tapegrad::optim::SGD<float> optimizer(model.parameters(), 0.1);
  auto x = tape.constant(Array<float>(xt::ones<float>({4, 2})));
  auto y = tape.constant(Array<float>(xt::zeros<float>({4, 1})));
  tapegrad::Parameter<float> W(Array<float>(xt::ones<float>({2, 3}))), b(Array<float>(xt::zeros<float>({3})));
  tapegrad::Var<float> a = x, z = y, p = y, h = x, err = x, loss, logits = x, probs = y, data_loss = loss;
  std::vector<std::int64_t> labels{0, 1, 0, 1};
  Array<float> targets = xt::zeros<float>({4});
  tapegrad::data::TensorDataset<float> train(Array<float>(xt::zeros<float>({8, 2})), Array<float>(xt::zeros<float>({8})));
  tapegrad::data::TensorDataset<float> test = train;
  tapegrad::data::DataLoader<float> loader(train, tapegrad::data::DataLoaderOptions(4));
  tapegrad::nn::Sequential<float> net;
  tapegrad::nn::Linear<float> encoder(tapegrad::nn::LinearOptions(2, 2), rng);
  auto train_one_step = [] {};
  double correct = 0, lambda = 0.1;
  std::size_t in = 2, out = 3;
  Array<float> features = xt::zeros<float>({8, 2});
"""

# What the MPI component's examples share besides PRELUDE (only declared: never run).
MPI_PRELUDE = r"""
  tapegrad::dist::Environment& env = doc_environment();
  auto& opt = optimizer;
  double loss_sum = 0;
  std::size_t examples = 0;
  auto loss_of = [&](tapegrad::data::Batch<float>&) { return loss; };
  auto train_on = [](tapegrad::data::Batch<float>&) {};
"""

MPI_DECLARATIONS = """#if TAPEGRAD_DOC_EXAMPLES_MPI
#include <tapegrad/dist.hpp>
tapegrad::dist::Environment& doc_environment();
void train(tapegrad::dist::Environment&);
#endif
"""

HEADER = """#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <tapegrad/tapegrad.hpp>
#include <tapegrad/tutorial/compare.hpp>
#include <tapegrad/tutorial/neural_network.hpp>
#include <tapegrad/tutorial/ops.hpp>

// Every value an example computes is used, or not: that is the example's business.
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-local-typedefs"
// A documented main() lives in a namespace here, where it is an ordinary function.
#pragma GCC diagnostic ignored "-Wreturn-type"
"""


def markdown_blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            j = i + 1
            while not lines[j].strip().startswith("```"):
                j += 1
            yield i + 2, lines[i + 1 : j]
            i = j
        i += 1


def header_blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    code = re.compile(r"^\s*///     (.*)$")
    start_of_code = re.compile(r"^\s*///     \S")
    blank = re.compile(r"^\s*///\s*$")
    doc = re.compile(r"^\s*///")
    i = 0
    while i < len(lines):
        # A block starts after a blank doc line (or none), indented by exactly four spaces; the
        # deeper lines of a math block indented by two are not code.
        if start_of_code.match(lines[i]) and (i == 0 or blank.match(lines[i - 1]) or not doc.match(lines[i - 1])):
            start, block = i + 1, []
            while i < len(lines):
                m = code.match(lines[i])
                if m:
                    block.append(m.group(1))
                elif blank.match(lines[i]) and i + 1 < len(lines) and code.match(lines[i + 1]):
                    block.append("")
                else:
                    break
                i += 1
            yield start, block
        else:
            i += 1


DEFINES = re.compile(r"^(template\s*<|struct |class |int main\(|namespace \w+ \{)")
HOISTED = re.compile(r"^(#include|namespace \w+ = )")


def translation_unit(source_dir):
    docs = ["README.md"] + sorted(glob.glob("docs/*.md", root_dir=source_dir))
    headers = sorted(glob.glob("include/tapegrad/**/*.hpp", root_dir=source_dir, recursive=True))
    blocks = [(d, ln, b) for d in docs for ln, b in markdown_blocks(os.path.join(source_dir, d))]
    blocks += [(h, ln, b) for h in headers for ln, b in header_blocks(os.path.join(source_dir, h))]
    out = [HEADER, MPI_DECLARATIONS]
    for n, (doc, line, block) in enumerate(blocks):
        path = os.path.join(source_dir, doc)
        # Includes and namespace aliases go first, at namespace scope; line numbers are kept by
        # leaving their lines empty.
        # The MPI component's examples compile only where it is built (TAPEGRAD_WITH_MPI).
        needs_mpi = doc.startswith("include/tapegrad/dist") or doc == "docs/distributed.md" or any(
            "tapegrad/dist" in l or re.search(r"\benv\b", l) for l in block)
        hoisted = [l for l in block if HOISTED.match(l)]
        body = ["" if HOISTED.match(l) else l for l in block]
        if not needs_mpi:
            out += hoisted
        at_namespace_scope = any(DEFINES.match(l) for l in body)
        if needs_mpi:
            out.append("#if TAPEGRAD_DOC_EXAMPLES_MPI")
            out += hoisted
        out.append(f"namespace doc_example_{n} {{")
        if at_namespace_scope:
            out.append("namespace tg = tapegrad;")
            out.append(f'#line {line} "{path}"')
            out += body
        else:
            prelude = PRELUDE + (MPI_PRELUDE if needs_mpi else "")
            out.append("[[maybe_unused]] void run() {" + prelude.replace("\n", " "))
            out.append("{")
            out.append(f'#line {line} "{path}"')
            out += body
            out.append("}}")
        out.append("}")
        if needs_mpi:
            out.append("#endif")
    return "\n".join(out) + "\n", len(blocks)


def main():
    source_dir, out_dir, cxx, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(out_dir, exist_ok=True)
    text, count = translation_unit(source_dir)
    cpp = os.path.join(out_dir, "doc_examples.cpp")
    with open(cpp, "w", encoding="utf-8") as f:
        f.write(text)
    status = subprocess.call([cxx, "-std=c++17", *flags, "-c", cpp, "-o", os.path.join(out_dir, "doc_examples.o")])
    print(f"{count} examples from the README, docs/ and the headers' doc comments: "
          + ("all compile" if status == 0 else "some do not compile"))
    return status


if __name__ == "__main__":
    sys.exit(main())
