"""Reading matrices from text and from real files."""

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from svdlens.exceptions import MatrixParseError
from svdlens.linalg import load_matrix, parse_matrix, parse_vector, read_matrix

M = np.array([[2.0, 1.0], [1.0, 3.0]])


@pytest.mark.parametrize("text", ["2 1; 1 3", "[2 1; 1 3]", "2,1;1,3", "2 1\n1 3", " 2  1 ;\n 1 3 ; "])
def test_parse_forms(text):
    np.testing.assert_array_equal(parse_matrix(text), M)


@pytest.mark.parametrize(
    "text, match",
    [
        ("1 x; 3 4", r"token 'x' at row 1, column 2 \(character 3\)"),
        ("1 2; 3 4e", r"token '4e' at row 2, column 2"),
        ("1 2; 3", r"row 2 has 1 entries but row 1 has 2"),
        ("", r"no numbers found"),
    ],
)
def test_parse_errors_name_the_token(text, match):
    with pytest.raises(MatrixParseError, match=match):
        parse_matrix(text)


def test_parse_vector():
    np.testing.assert_array_equal(parse_vector("2 1"), [2, 1])
    np.testing.assert_array_equal(parse_vector("[2; 1]"), [2, 1])
    with pytest.raises(MatrixParseError, match="as a vector"):
        parse_vector("1 2; 3 4")


def test_real_files(tmp_path):
    np.save(tmp_path / "a.npy", M)
    np.savez(tmp_path / "one.npz", A=M)
    np.savez(tmp_path / "two.npz", A=M, B=M)
    np.savetxt(tmp_path / "a.csv", M, delimiter=",")
    np.savetxt(tmp_path / "a.txt", M)
    scipy.io.mmwrite(str(tmp_path / "a.mtx"), sp.coo_matrix(M))
    for name in ("a.npy", "one.npz", "a.csv", "a.txt"):
        np.testing.assert_array_equal(load_matrix(tmp_path / name), M)
    mtx = load_matrix(tmp_path / "a.mtx")
    assert sp.issparse(mtx)
    np.testing.assert_array_equal(mtx.toarray(), M)
    np.testing.assert_array_equal(load_matrix(tmp_path / "two.npz", key="B"), M)
    with pytest.raises(MatrixParseError, match=r"holds 2 arrays \(A, B\); name one"):
        load_matrix(tmp_path / "two.npz")
    with pytest.raises(MatrixParseError, match="no array 'C'"):
        load_matrix(tmp_path / "two.npz", key="C")
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "a.npy")), M)


def test_bad_files(tmp_path):
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    with pytest.raises(MatrixParseError, match=r"'oops' at line 2, column 2"):
        load_matrix(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(MatrixParseError, match="different lengths"):
        load_matrix(tmp_path / "ragged.csv")
    (tmp_path / "corrupt.npy").write_bytes(b"not a numpy file")
    with pytest.raises(MatrixParseError, match="cannot read"):
        load_matrix(tmp_path / "corrupt.npy")
    (tmp_path / "m.xlsx").write_text("x")
    with pytest.raises(MatrixParseError, match="unknown file type '.xlsx'"):
        load_matrix(tmp_path / "m.xlsx")
    with pytest.raises(FileNotFoundError):
        load_matrix(tmp_path / "missing.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MatrixParseError, match="cannot read"):
        load_matrix(tmp_path / "obj.npy")  # pickles are refused
