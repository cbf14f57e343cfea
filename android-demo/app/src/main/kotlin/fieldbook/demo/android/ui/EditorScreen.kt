package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.demo.Control
import fieldbook.demo.EditorField
import fieldbook.demo.EditorViewModel
import kotlinx.coroutines.launch

/** The editor built from the schema: one control per field type, grouped by section. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun EditorScreen(editor: EditorViewModel, title: String, onSaved: (String) -> Unit) {
    val state by editor.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    LaunchedEffect(editor) { if (state.fields.isEmpty()) editor.load() }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(title) },
                actions = {
                    TextButton(
                        onClick = { scope.launch { editor.save()?.let(onSaved) } },
                        enabled = state.hasChanges && !state.saving,
                    ) { Text("保存") }
                },
            )
        },
    ) { padding ->
        LazyColumn(Modifier.padding(padding).fillMaxSize()) {
            state.message?.let { item { MessageLine(it, onDismiss = editor::dismissMessage) } }
            state.sections.forEach { section ->
                item {
                    Text(section.label, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(start = 16.dp, top = 16.dp))
                }
                items(section.fields, key = { it.spec.path }) { field ->
                    FieldEditor(field) { editor.onChange(field.spec.path, it) }
                }
            }
        }
    }
}

@Composable
private fun FieldEditor(field: EditorField, onChange: (String) -> Unit) {
    val modifier = Modifier.fillMaxWidth().padding(horizontal = 16.dp, vertical = 4.dp)
    when (field.input.control) {
        Control.SWITCH -> Row(modifier, verticalAlignment = Alignment.CenterVertically) {
            Text(field.spec.label, Modifier.weight(1f))
            Switch(checked = field.draft == "true", onCheckedChange = { onChange(it.toString()) })
        }
        Control.PICKER -> Picker(field, onChange, modifier)
        else -> OutlinedTextField(
            value = field.draft,
            onValueChange = onChange,
            label = { Text(field.spec.label) },
            placeholder = { Text(field.input.placeholder) },
            singleLine = field.input.control != Control.MULTILINE,
            minLines = if (field.input.control == Control.MULTILINE) 3 else 1,
            isError = field.error != null,
            supportingText = field.error?.let { error -> @Composable { Text(error) } },
            keyboardOptions = KeyboardOptions(keyboardType = keyboardFor(field.input.control)),
            modifier = modifier,
        )
    }
}

private fun keyboardFor(control: Control): KeyboardType = when (control) {
    Control.INTEGER -> KeyboardType.Number
    // Decimal keyboards: the library parses "." only; a comma-decimal IME still offers it here.
    Control.DECIMAL, Control.SIGNED_DECIMAL -> KeyboardType.Decimal
    Control.DATE, Control.DATE_TIME -> KeyboardType.Ascii
    else -> KeyboardType.Text
}

/** A choice: a button showing the label, a menu of the options, and 清除 to unset it. */
@Composable
private fun Picker(field: EditorField, onChange: (String) -> Unit, modifier: Modifier) {
    var open by remember { mutableStateOf(false) }
    Column(modifier) {
        Text(field.spec.label, style = MaterialTheme.typography.bodySmall)
        Box {
            OutlinedButton(onClick = { open = true }) {
                Text(field.input.options.firstOrNull { it.code == field.draft }?.label ?: field.input.placeholder)
            }
            DropdownMenu(expanded = open, onDismissRequest = { open = false }) {
                field.input.options.forEach { option ->
                    DropdownMenuItem(text = { Text(option.label) }, onClick = { onChange(option.code); open = false })
                }
                DropdownMenuItem(text = { Text("清除") }, onClick = { onChange(""); open = false })
            }
        }
        field.error?.let { Text(it, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall) }
    }
}
