package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.demo.EnrolViewModel
import kotlinx.coroutines.launch

/** 登记本机: the server address and the one-time token from the manager. */
@Composable
fun EnrolScreen(enrol: EnrolViewModel, onEnrolled: () -> Unit) {
    val state by enrol.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    Column(Modifier.fillMaxSize().padding(24.dp)) {
        Text("登记本机", style = MaterialTheme.typography.headlineSmall)
        Text("请输入主管提供的服务器地址和一次性登记码。", modifier = Modifier.padding(vertical = 8.dp))
        OutlinedTextField(
            value = state.serverUrl,
            onValueChange = { v -> enrol.update { it.copy(serverUrl = v) } },
            label = { Text("服务器地址") },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedTextField(
            value = state.token,
            onValueChange = { v -> enrol.update { it.copy(token = v) } },
            label = { Text("登记码") },
            singleLine = true,
            modifier = Modifier.fillMaxWidth().padding(top = 8.dp),
        )
        state.message?.let { MessageLine(it, onDismiss = enrol::dismissMessage) }
        Button(
            onClick = { scope.launch { if (enrol.enrol() != null) onEnrolled() } },
            enabled = !state.enrolling && state.serverUrl.isNotBlank() && state.token.isNotBlank(),
            modifier = Modifier.padding(top = 16.dp),
        ) { Text(if (state.enrolling) "正在登记…" else "登记") }
    }
}
