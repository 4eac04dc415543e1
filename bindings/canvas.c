/* bindings/canvas.c — core.canvas: a cairo surface as a Lua object
 * (stdlib/plot.lua draws figures with it), plus the KDE and colour map of
 * runtime/kde.c. Drawing calls check their arguments and pass them to
 * cairo; saving writes the PNG (or the SVG) atomically (gl_wfile) and
 * raises on failure. A canvas made with kind "svg" draws onto a cairo SVG
 * surface whose document (vector paths, the text's glyphs) goes into
 * memory; save finishes it and writes it to a .svg path. (A recording
 * surface replayed into an SVG surface was the first design: cairo 1.16
 * keeps a reference to every replayed recording but the last, a leak per
 * chart.)
 *
 *   local c = canvas.new(640, 480 [, "svg"])
 *   c:color(0, 0, 0); c:line_width(1.5); c:move_to(10, 10); c:line_to(100, 50); c:stroke()
 *   c:text(320, 20, "title", {size = 14, align = "center", bold = true})
 *   assert(c:save("plot.png")) */
#include "bindings.h"

#include <cairo.h>
#include <cairo-svg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CANVAS_MT "ganlua.Canvas"

typedef struct {
    cairo_surface_t *s;
    cairo_t *cr;
    int svg;         /* s is an SVG surface writing into buf */
    int finished;    /* the SVG document is complete (saved): no more drawing */
    unsigned char *buf;
    size_t len, cap;
    int oom;
} canvas;

static canvas *open_canvas(lua_State *L)
{
    canvas *c = luaL_checkudata(L, 1, CANVAS_MT);
    if (!c->cr) gl_lua_argerror(L, 1, "canvas has been closed");
    return c;
}

/* the canvas to draw on */
static canvas *check_canvas(lua_State *L)
{
    canvas *c = open_canvas(L);
    if (c->finished) gl_lua_argerror(L, 1, "the canvas was saved as SVG, its document is complete");
    return c;
}

/* the SVG surface's output, appended to the canvas's buffer */
static cairo_status_t mem_sink(void *closure, const unsigned char *data, unsigned int length)
{
    canvas *c = closure;
    if (c->len + length > c->cap) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < c->len + length) cap *= 2;
        unsigned char *b = realloc(c->buf, cap);
        if (!b) {
            c->oom = 1;
            return CAIRO_STATUS_NO_MEMORY;
        }
        c->buf = b, c->cap = cap;
    }
    memcpy(c->buf + c->len, data, length);
    c->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static double num(lua_State *L, int i) { return luaL_checknumber(L, i); }

/* new(width, height [, "image" | "svg"]) -> canvas with a white background */
static int c_new(lua_State *L)
{
    static const char *const kinds[] = {"image", "svg", NULL};
    lua_Integer w = luaL_checkinteger(L, 1), h = luaL_checkinteger(L, 2);
    luaL_argcheck(L, w >= 1 && w <= 16384, 1, "width must be 1..16384");
    luaL_argcheck(L, h >= 1 && h <= 16384, 2, "height must be 1..16384");
    int svg = luaL_checkoption(L, 3, "image", kinds);
    canvas *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->svg = svg;
    luaL_setmetatable(L, CANVAS_MT);
    if (svg) {
        c->s = cairo_svg_surface_create_for_stream(mem_sink, c, (double)w, (double)h); /* c: a userdata, never moved */
        cairo_svg_surface_set_document_unit(c->s, CAIRO_SVG_UNIT_PX); /* w x h pixels, not points */
    } else {
        c->s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)w, (int)h);
    }
    if (cairo_surface_status(c->s) != CAIRO_STATUS_SUCCESS) return gl_lua_errorf(L, "canvas: cannot create a %dx%d image", (int)w, (int)h);
    c->cr = cairo_create(c->s);
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    cairo_set_source_rgb(c->cr, 0, 0, 0);
    cairo_select_font_face(c->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return 1;
}

static int c_close(lua_State *L)
{
    canvas *c = luaL_checkudata(L, 1, CANVAS_MT);
    if (c->cr) cairo_destroy(c->cr);
    if (c->s) cairo_surface_destroy(c->s);
    free(c->buf);
    c->buf = NULL;
    c->cr = NULL;
    c->s = NULL;
    return 0;
}

static int c_color(lua_State *L)
{
    canvas *c = check_canvas(L);
    cairo_set_source_rgba(c->cr, num(L, 2), num(L, 3), num(L, 4), luaL_optnumber(L, 5, 1));
    return 0;
}
static int c_line_width(lua_State *L)
{
    canvas *c = check_canvas(L);
    cairo_set_line_width(c->cr, num(L, 2));
    return 0;
}
static int c_dash(lua_State *L)
{
    canvas *c = check_canvas(L);
    if (lua_isnoneornil(L, 2)) cairo_set_dash(c->cr, NULL, 0, 0);
    else {
        double d[2] = {num(L, 2), luaL_optnumber(L, 3, num(L, 2))};
        cairo_set_dash(c->cr, d, 2, 0);
    }
    return 0;
}
static int c_move_to(lua_State *L) { canvas *c = check_canvas(L); cairo_move_to(c->cr, num(L, 2), num(L, 3)); return 0; }
static int c_line_to(lua_State *L) { canvas *c = check_canvas(L); cairo_line_to(c->cr, num(L, 2), num(L, 3)); return 0; }
static int c_stroke(lua_State *L) { canvas *c = check_canvas(L); cairo_stroke(c->cr); return 0; }
static int c_fill(lua_State *L) { canvas *c = check_canvas(L); cairo_fill(c->cr); return 0; }
static int c_new_path(lua_State *L) { canvas *c = check_canvas(L); cairo_new_path(c->cr); return 0; }
static int c_rect(lua_State *L)
{
    canvas *c = check_canvas(L);
    cairo_rectangle(c->cr, num(L, 2), num(L, 3), num(L, 4), num(L, 5));
    return 0;
}
static int c_circle(lua_State *L)
{
    canvas *c = check_canvas(L);
    cairo_new_sub_path(c->cr);
    cairo_arc(c->cr, num(L, 2), num(L, 3), num(L, 4), 0, 2 * M_PI);
    return 0;
}
static int c_clip(lua_State *L)
{
    canvas *c = check_canvas(L);
    cairo_reset_clip(c->cr);
    if (!lua_isnoneornil(L, 2)) {
        cairo_rectangle(c->cr, num(L, 2), num(L, 3), num(L, 4), num(L, 5));
        cairo_clip(c->cr);
    }
    return 0;
}

static void set_font(lua_State *L, canvas *c, int opts)
{
    double size = 12;
    int bold = 0;
    if (lua_istable(L, opts)) {
        lua_getfield(L, opts, "size");
        size = luaL_optnumber(L, -1, 12);
        lua_getfield(L, opts, "bold");
        bold = lua_toboolean(L, -1);
        lua_pop(L, 2);
    }
    cairo_select_font_face(c->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(c->cr, size);
}

/* text(x, y, s [, {size = 12, bold = false, align = "left"|"center"|"right",
 * valign = "baseline"|"middle"|"top"|"bottom", angle = degrees}]) */
static int c_text(lua_State *L)
{
    canvas *c = check_canvas(L);
    double x = num(L, 2), y = num(L, 3);
    const char *s = luaL_checkstring(L, 4);
    set_font(L, c, 5);
    const char *align = "left", *valign = "baseline";
    double angle = 0;
    if (lua_istable(L, 5)) {
        lua_getfield(L, 5, "align");
        align = luaL_optstring(L, -1, "left");
        lua_getfield(L, 5, "valign");
        valign = luaL_optstring(L, -1, "baseline");
        lua_getfield(L, 5, "angle");
        angle = luaL_optnumber(L, -1, 0);
        lua_pop(L, 3);
    }
    cairo_text_extents_t e;
    cairo_text_extents(c->cr, s, &e);
    double dx = 0, dy = 0;
    if (!strcmp(align, "center")) dx = -(e.x_bearing + e.width / 2);
    else if (!strcmp(align, "right")) dx = -(e.x_bearing + e.width);
    if (!strcmp(valign, "middle")) dy = -(e.y_bearing + e.height / 2);
    else if (!strcmp(valign, "top")) dy = -e.y_bearing;
    else if (!strcmp(valign, "bottom")) dy = -(e.y_bearing + e.height);
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_rotate(c->cr, angle * M_PI / 180);
    cairo_move_to(c->cr, dx, dy);
    cairo_show_text(c->cr, s);
    cairo_restore(c->cr);
    return 0;
}

/* text_size(s [, font opts]) -> width, height */
static int c_text_size(lua_State *L)
{
    canvas *c = check_canvas(L);
    const char *s = luaL_checkstring(L, 2);
    set_font(L, c, 3);
    cairo_text_extents_t e;
    cairo_text_extents(c->cr, s, &e);
    lua_pushnumber(L, e.x_advance);
    lua_pushnumber(L, e.height);
    return 2;
}

/* heatmap(grid, x, y, w, h [, {cmap = "Blues"|"Greens"|"viridis", vmax =}]):
 * grid is H x W (row 1 at the bottom, as a plot's y axis runs upward) */
static int c_heatmap(lua_State *L)
{
    canvas *c = check_canvas(L);
    gl_tensor *g = gl_lua_check(L, 2);
    double x = num(L, 3), y = num(L, 4), w = num(L, 5), h = num(L, 6);
    if (g->ndim != 2) return gl_lua_argerror(L, 2, "expected an H x W grid");
    int cm = 0;
    float vmax = 0;
    if (lua_istable(L, 7)) {
        lua_getfield(L, 7, "cmap");
        const char *name = luaL_optstring(L, -1, "Blues");
        cm = !strcmp(name, "Greens") ? 1 : !strcmp(name, "viridis") ? 2 : !strcmp(name, "Blues") ? 0 : -1;
        if (cm < 0) return gl_lua_errorf(L, "heatmap: unknown colour map '%s' (Blues, Greens, viridis)", name);
        lua_getfield(L, 7, "vmax");
        vmax = (float)luaL_optnumber(L, -1, 0);
        lua_pop(L, 2);
    }
    int H = (int)g->shape[0], W = (int)g->shape[1];
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) return gl_lua_errorf(L, "heatmap: out of memory");
    cairo_surface_flush(img);
    gl_status st = gl_colormap(cairo_image_surface_get_data(img), cairo_image_surface_get_stride(img), g, cm, vmax);
    if (st != GL_OK) {
        cairo_surface_destroy(img);
        gl_lua_check_status(L, st);
    }
    cairo_surface_mark_dirty(img);
    cairo_save(c->cr);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_clip(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_scale(c->cr, w / W, h / H);
    cairo_set_source_surface(c->cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(c->cr), CAIRO_FILTER_BILINEAR);
    cairo_paint(c->cr);
    cairo_restore(c->cr);
    cairo_surface_destroy(img);
    return 0;
}

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int length)
{
    return gl_wfile_write(closure, data, length) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* save(path) -> true; atomic (gl_wfile); raises on failure. An image
 * canvas saves as PNG, an SVG canvas as SVG to a path ending in .svg
 * (which completes its document: it can be saved again, not drawn on). */
static int c_save(lua_State *L)
{
    canvas *c = open_canvas(L);
    const char *path = luaL_checkstring(L, 2);
    int svg = ends_with(path, ".svg");
    if (svg && !c->svg) return gl_lua_errorf(L, "save: %s: an SVG needs a canvas made with kind \"svg\"", path);
    if (!svg && c->svg) return gl_lua_errorf(L, "save: %s: an SVG canvas saves to a path ending in .svg", path);
    cairo_status_t st = CAIRO_STATUS_SUCCESS;
    if (svg && !c->finished) {
        cairo_surface_finish(c->s); /* the rest of the document goes into buf */
        c->finished = 1;
        st = c->oom ? CAIRO_STATUS_NO_MEMORY : cairo_surface_status(c->s);
        if (st != CAIRO_STATUS_SUCCESS) return gl_lua_errorf(L, "save: %s: %s", path, cairo_status_to_string(st));
    }
    cairo_surface_flush(c->s);
    gl_wfile *w;
    gl_lua_check_status(L, gl_wfile_open(&w, "save", path));
    if (svg) {
        if (!gl_wfile_write(w, c->buf, c->len)) st = CAIRO_STATUS_WRITE_ERROR;
    } else {
        st = cairo_surface_write_to_png_stream(c->s, png_sink, w);
    }
    if (st != CAIRO_STATUS_SUCCESS) gl_wfile_fail(w, EIO);
    gl_lua_check_status(L, gl_wfile_commit(w));
    lua_pushboolean(L, 1);
    return 1;
}

/* kde2d(samples, x0, x1, y0, y1, W, H [, min_std]) -> H x W density grid */
static int c_kde2d(lua_State *L)
{
    gl_tensor *s = gl_lua_check(L, 1);
    double x0 = num(L, 2), x1 = num(L, 3), y0 = num(L, 4), y1 = num(L, 5);
    int W = (int)luaL_checkinteger(L, 6), H = (int)luaL_checkinteger(L, 7);
    double min_std = luaL_optnumber(L, 8, 0);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_kde2d(&u->t, s, x0, x1, y0, y1, W, H, min_std));
    return 1;
}

/* kde_bandwidth(samples) -> {kxx, kxy, kyx, kyy} */
static int c_kde_bandwidth(lua_State *L)
{
    gl_tensor *s = gl_lua_check(L, 1);
    double K[4];
    gl_lua_check_status(L, gl_kde2d_bandwidth(s, K));
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) {
        lua_pushnumber(L, K[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* kde1d(values, grid) -> density at each grid value */
static int c_kde1d(lua_State *L)
{
    gl_tensor *v = gl_lua_check(L, 1), *g = gl_lua_check(L, 2);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_kde1d(&u->t, v, g));
    return 1;
}

static const luaL_Reg methods[] = {
    {"color", c_color}, {"line_width", c_line_width}, {"dash", c_dash}, {"move_to", c_move_to}, {"line_to", c_line_to},
    {"stroke", c_stroke}, {"fill", c_fill}, {"new_path", c_new_path}, {"rect", c_rect}, {"circle", c_circle},
    {"clip", c_clip}, {"text", c_text}, {"text_size", c_text_size}, {"heatmap", c_heatmap}, {"save", c_save},
    {"close", c_close}, {NULL, NULL}};

static const luaL_Reg fns[] = {{"new", c_new}, {"kde2d", c_kde2d}, {"kde_bandwidth", c_kde_bandwidth},
                               {"kde1d", c_kde1d}, {NULL, NULL}};

int luaopen_ganlua_canvas(lua_State *L)
{
    if (luaL_newmetatable(L, CANVAS_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, c_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, c_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
