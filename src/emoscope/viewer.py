"""A live window with the annotated frames, in Tk (part of Python), so it works on the default
headless-OpenCV install. Closing the window, q or Esc ends the stream."""
from __future__ import annotations

import cv2
import numpy as np

from .errors import InputError


class TkViewer:
    def __init__(self, title: str = "EmoScope"):
        try:
            import tkinter
        except ImportError:
            raise InputError("the live window needs Tk (python3-tk); use --no-window") from None
        try:
            self._root = tkinter.Tk()
        except tkinter.TclError as error:
            raise InputError(f"no display for a window ({error}); use --no-window") from None
        self._tk = tkinter
        self._root.title(title)
        self._label = tkinter.Label(self._root)
        self._label.pack()
        self._photo = None
        self.closed = False
        self._root.protocol("WM_DELETE_WINDOW", self.close)
        for key in ("<Escape>", "q"):
            self._root.bind(key, lambda _event: self.close())

    def show(self, image: np.ndarray) -> None:
        """Display a BGR frame and handle pending window events."""
        if self.closed:
            return
        ok, ppm = cv2.imencode(".ppm", image)
        self._photo = self._tk.PhotoImage(data=ppm.tobytes(), format="PPM")
        self._label.configure(image=self._photo)
        self._root.update()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._root.destroy()
