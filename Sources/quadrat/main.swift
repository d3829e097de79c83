import CTorch
print(String(cString: qt_version()))
