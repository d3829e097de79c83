// The C image libraries Quadrat decodes with (Debian: libturbojpeg0-dev, libpng-dev).
#include <turbojpeg.h>
#include <png.h>
