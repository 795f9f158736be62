/* oscar-ordercancel, the dashboard's order page: while "Cancel the selected lines" is the
   chosen line action, each line's quantity box offers what that line can still cancel
   (its default and max), not the ordered quantity; another action gets Oscar's boxes back. */
(function () {
    "use strict";
    var form = document.getElementById("order_lines_form");
    var data = document.getElementById("ordercancel-cancellable");
    if (!form || !data) {
        return;
    }
    var limits = JSON.parse(data.textContent);
    var saved = {};

    function box(id) {
        return form.querySelector('input[name="selected_line_qty_' + id + '"]');
    }

    function offerCancellable() {
        Object.keys(limits).forEach(function (id) {
            var input = box(id), limit = limits[id];
            if (!input || id in saved || limit < 1) {
                return;
            }
            saved[id] = {value: input.value, type: input.type};
            input.type = "number";
            input.min = "1";
            input.max = String(limit);
            if (!(parseInt(input.value, 10) <= limit)) {
                input.value = String(limit);
            }
        });
    }

    function restore() {
        Object.keys(saved).forEach(function (id) {
            var input = box(id), before = saved[id];
            if (input.value === String(Math.min(parseInt(before.value, 10), limits[id]))) {
                input.value = before.value; // untouched since: Oscar's default again
            }
            input.removeAttribute("min");
            input.removeAttribute("max");
            input.type = before.type;
            delete saved[id];
        });
    }

    form.addEventListener("change", function (event) {
        if (event.target.name !== "line_action") {
            return;
        }
        if (event.target.value === "cancel_lines") {
            offerCancellable();
        } else {
            restore();
        }
    });
}());
